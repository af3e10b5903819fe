"""Item files: the four formats read into an ItemTable (ids as written, titles, genres,
years), their bad lines named, and the table attached to ratings by item id."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from cfcore.data import (
    ItemTable,
    RatingsData,
    attach_items,
    k_fold,
    load_items,
    load_ratings,
    train_test_split,
)
from cfcore.data.item_formats import ML100K_GENRES

FLAGS = {"Animation": 3, "Children's": 4, "Comedy": 5, "Drama": 8}


def u_item_line(item_id, title, released, genres=()):
    flags = ["1" if column in {FLAGS[genre] for genre in genres} else "0" for column in range(19)]
    return "|".join([str(item_id), title, released, "", "http://us.imdb.com/x", *flags])


def write(tmp_path, name, lines, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding))
    return path


def u_item(tmp_path):
    lines = [
        u_item_line(1, "Toy Story (1995)", "01-Jan-1995", ["Animation", "Children's", "Comedy"]),
        u_item_line(2, "Café au lait (1993)", "4-Feb-1994", ["Comedy", "Drama"]),
        u_item_line(3, "Old Film (1932)", ""),
        u_item_line(4, "unknown", ""),
    ]
    return write(tmp_path, "u.item", lines, encoding="latin-1")


def test_a_u_item_title_without_a_year_takes_the_release_dates(tmp_path):
    path = write(tmp_path, "u.item", [u_item_line(9, "Untitled", "12-Mar-1997")])
    assert load_items(path).years.tolist() == [1997.0]


def genre_set(table, row):
    return {name for name, flag in zip(table.genre_names, table.genres[row], strict=True) if flag}


# --- the four formats --------------------------------------------------------------------


def test_u_item_reads_latin_1_titles_release_years_and_the_19_genre_columns(tmp_path):
    table = load_items(u_item(tmp_path))
    np.testing.assert_array_equal(table.item_ids, [1, 2, 3, 4])
    assert table.item_ids.dtype == np.int64
    assert list(table.titles) == [
        "Toy Story (1995)",
        "Café au lait (1993)",
        "Old Film (1932)",
        "unknown",
    ]
    # the title's year (1993, not the 1994 release date), else the date's, else NaN
    np.testing.assert_array_equal(table.years, [1995.0, 1993.0, 1932.0, np.nan])
    assert table.genre_names == list(ML100K_GENRES) and table.genres.shape == (4, 19)
    assert genre_set(table, 0) == {"Animation", "Children's", "Comedy"}
    assert genre_set(table, 1) == {"Comedy", "Drama"} and genre_set(table, 3) == set()


def test_u_item_takes_its_genre_names_from_the_u_genre_beside_it(tmp_path):
    write(tmp_path, "u.genre", ["Kids|1", "Laughs|2", "Cartoons|0", ""])
    path = write(tmp_path, "u.item", ["7|Toy Story (1995)|01-Jan-1995||url|1|0|1"])
    table = load_items(path, "ml-100k")
    assert table.genre_names == ["Cartoons", "Kids", "Laughs"]
    np.testing.assert_array_equal(table.genres, [[True, False, True]])
    assert genre_set(table, 0) == {"Cartoons", "Laughs"}


def test_ml_1m_movies_dat_is_latin_1_with_sorted_genre_names(tmp_path):
    lines = [
        "1::Toy Story (1995)::Animation|Children's|Comedy",
        "",
        "2::Café Society (1995)::Drama",
        "3::A Title::With::Colons (2000)::Comedy",
        "4::No Year Known::Drama",
    ]
    table = load_items(write(tmp_path, "movies.dat", lines, encoding="latin-1"))
    np.testing.assert_array_equal(table.item_ids, [1, 2, 3, 4])
    assert table.titles[1] == "Café Society (1995)"
    assert table.titles[2] == "A Title::With::Colons (2000)"
    np.testing.assert_array_equal(table.years, [1995.0, 1995.0, 2000.0, np.nan])
    assert table.genre_names == ["Animation", "Children's", "Comedy", "Drama"]
    np.testing.assert_array_equal(table.genres[0], [True, True, True, False])
    np.testing.assert_array_equal(table.genres[:, 3], [False, True, False, True])


def test_movies_csv_reads_quoted_commas_and_no_genres_listed(tmp_path):
    lines = [
        "movieId,title,genres",
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
        '11,"American President, The (1995)",Comedy|Drama|Romance',
        '12,"Say ""Cheese"", Please (2001)",Comedy',
        "4973,Amélie (Fabuleux destin d'Amélie Poulain) (2001),Comedy|Romance",
        "131260,Rentun Ruusu (2001),(no genres listed)",
        "140956,Fawlty Towers (1975-1979),Comedy",
        "149334,Nocturne Six,Horror|Thriller",
    ]
    table = load_items(write(tmp_path, "movies.csv", lines))
    np.testing.assert_array_equal(table.item_ids, [1, 11, 12, 4973, 131260, 140956, 149334])
    assert table.titles[1] == "American President, The (1995)"
    assert table.titles[2] == 'Say "Cheese", Please (2001)'
    assert table.titles[3] == "Amélie (Fabuleux destin d'Amélie Poulain) (2001)"
    np.testing.assert_array_equal(
        table.years, [1995.0, 1995.0, 2001.0, 2001.0, 2001.0, 1975.0, np.nan]
    )
    assert table.genre_names == [
        "Adventure", "Animation", "Children", "Comedy", "Drama", "Fantasy", "Horror",
        "Romance", "Thriller",
    ]  # fmt: skip
    assert genre_set(table, 1) == {"Comedy", "Drama", "Romance"}
    assert genre_set(table, 4) == set()  # (no genres listed) is no genre, not a column


MOVIETWEETINGS = [
    "0000008::Edison Kinetoscopic Record of a Sneeze (1894)::Documentary|Short",
    "0000010::La sortie des usines Lumière (1895)::",
    "0002844::Fantômas - À l'ombre de la guillotine (1913)::Crime|Drama",
    "0004936::Unrated Movie (1915)::Drama",
]
MOVIETWEETINGS_RATINGS = [
    "1::0002844::8::1367015633",
    "1::0000008::5::1367015900",
    "2::0000010::10::1385643331",
    "3::0002844::6::1385643400",
]


def test_movietweetings_ids_keep_their_leading_zeros_and_match_its_ratings(tmp_path):
    items = load_items(write(tmp_path, "movies.dat", MOVIETWEETINGS))
    assert items.item_ids.dtype.kind == "U"
    assert list(items.item_ids) == ["0000008", "0000010", "0002844", "0004936"]
    assert items.titles[2] == "Fantômas - À l'ombre de la guillotine (1913)"
    np.testing.assert_array_equal(items.years, [1894.0, 1895.0, 1913.0, 1915.0])
    assert genre_set(items, 1) == set()  # an empty genre field
    ratings = load_ratings(write(tmp_path, "ratings.dat", MOVIETWEETINGS_RATINGS))
    assert list(ratings.item_ids) == ["0000008", "0000010", "0002844"]
    attached = attach_items(ratings, items)  # the item 0004936 without ratings is left out
    assert list(attached.titles) == list(items.titles[:3])
    np.testing.assert_array_equal(attached.years, [1894.0, 1895.0, 1913.0])
    assert genre_set(attached, 2) == {"Crime", "Drama"}
    assert attached.matrix[0, 2] == 8.0 and attached.name == "ratings.dat"
    assert ratings.titles is None and ratings.years is None  # ratings is not changed


def test_load_ratings_attaches_an_item_file_or_table(tmp_path):
    items_path = write(tmp_path, "movies.dat", MOVIETWEETINGS)
    ratings_path = write(tmp_path, "ratings.dat", MOVIETWEETINGS_RATINGS)
    for items in (items_path, str(items_path), load_items(items_path)):
        data = load_ratings(ratings_path, items=items)
        np.testing.assert_array_equal(data.years, [1894.0, 1895.0, 1913.0])
        assert data.titles[0] == "Edison Kinetoscopic Record of a Sneeze (1894)"
    with pytest.raises(TypeError, match="items must be an item file's path or an ItemTable"):
        load_ratings(ratings_path, items=42)


def test_format_is_detected_from_the_name_and_first_line_or_named(tmp_path):
    csv_path = write(tmp_path, "films.txt", ["movieId,title,genres", "1,Heat (1995),Crime"])
    assert load_items(csv_path).titles[0] == "Heat (1995)"
    latin = write(tmp_path, "movies.dat", ["1::Café (1995)::Drama"], encoding="latin-1")
    assert load_items(latin, "ml-1m").titles[0] == "Café (1995)"
    assert load_items(latin, encoding="latin-1").titles[0] == "Café (1995)"
    with pytest.raises(ValueError, match="format must be one of 'ml-100k', 'ml-1m'"):
        load_items(latin, "movielens")
    odd = write(tmp_path, "films.tsv", ["1\tHeat (1995)\tCrime"])
    with pytest.raises(ValueError, match=r"films.tsv: cannot tell its format.*pass format="):
        load_items(odd)


# --- bad files: named by file and line ------------------------------------------------------


#: (file name, its lines, what the error says after the file name)
MALFORMED = [
    ("movies.dat", ["1::Heat (1995)::Crime", "2::No genres"], r"line 2: expected 3 '::'"),
    ("movies.dat", ["1::Heat (1995)::Crime", "", "::No id (1995)::Drama"], r"line 3: .*empty"),
    (
        "movies.csv",
        ["movieId,title,genres", "1,Heat (1995),Crime", "11,Mr, Holland (1995),Drama"],
        r"line 3: expected 3 fields .*quote a title that holds a comma",
    ),
    ("movies.csv", ["movieId,name,genres", "1,Heat,Crime"], r"line 1: expected the header"),
    ("movies.csv", ["movieId,title,genres", '1,"Heat"x,Crime'], r"line 2: not readable as CSV"),
    ("u.item", ["1|Heat (1995)|01-Jan-1995||url|0|1"], r"line 1: expected 24 '\|'-separated"),
    ("u.item", [u_item_line(1, "Heat", "1995-01-01")], r"line 1: the release date '1995-01-01'"),
    (
        "movies.dat",
        ["1::Heat (1995)::Crime", "2::Casino (1995)::Drama", "1::Heat::Crime"],
        r"line 3: the item id '1' repeats line 1; keep one line per item",
    ),
]


@pytest.mark.parametrize(("name", "lines", "message"), MALFORMED)
def test_a_malformed_line_or_repeated_id_is_named_by_file_and_line(tmp_path, name, lines, message):
    path = write(tmp_path, name, lines)
    with pytest.raises(ValueError, match=message) as caught:
        load_items(path)
    assert str(caught.value).startswith(str(path))


def test_ids_are_distinct_as_written_so_7_and_007_are_two_items(tmp_path):
    table = load_items(write(tmp_path, "movies.dat", ["7::Seven (1995)::Drama", "007::Bond::"]))
    assert list(table.item_ids) == ["7", "007"]


def test_an_undecodable_byte_names_its_line_and_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "movies.dat"
    path.write_bytes(
        "0000008::Sneeze (1894)::Short\n0000010::Lumi\xe8re (1895)::\n".encode("latin-1")
    )
    with pytest.raises(ValueError, match=r"movies.dat, line 2: byte 0xe8 cannot be decoded"):
        load_items(path)
    assert load_items(path, encoding="latin-1").titles[1] == "Lumière (1895)"
    empty = write(tmp_path, "empty.dat", ["", " "])
    with pytest.raises(ValueError, match="holds no items"):
        load_items(empty, "ml-1m")


# --- attach_items ---------------------------------------------------------------------------


def ratings_of(item_ids):
    """One user who rated every item of item_ids 4 stars."""
    matrix = sp.csr_matrix(np.full((1, len(item_ids)), 4.0))
    return RatingsData(matrix, np.array([1]), np.array(item_ids), (1.0, 5.0), name="tiny")


def movies_dat(tmp_path):
    lines = ["1::Heat (1995)::Crime|Drama", "2::Casino (1995)::Crime", "3::Babe (1995)::Comedy"]
    return load_items(write(tmp_path, "movies.dat", lines))


def test_attach_aligns_by_id_whatever_the_order_and_ignores_extra_items(tmp_path):
    attached = attach_items(ratings_of([3, 1]), movies_dat(tmp_path))
    assert list(attached.titles) == ["Babe (1995)", "Heat (1995)"]
    assert attached.genre_names == ["Comedy", "Crime", "Drama"]
    np.testing.assert_array_equal(attached.genres, [[True, False, False], [False, True, True]])
    np.testing.assert_array_equal(attached.years, [1995.0, 1995.0])
    assert attached.name == "tiny" and attached.matrix.nnz == 2


def test_attach_refuses_items_missing_from_the_table_and_says_what_to_do(tmp_path):
    items = movies_dat(tmp_path)
    with pytest.raises(ValueError) as caught:
        attach_items(ratings_of([1, 4, 5, 6, 7, 8, 9, 2]), items)
    message = str(caught.value)
    assert message.startswith("6 of the 8 items of ratings are not in items")
    assert "movies.dat" in message and "ids 4, 5, 6, 7, 8, ..." in message
    assert "missing='fill'" in message and "integers" not in message


def test_attach_fills_missing_items_with_their_id_no_genre_and_nan_year(tmp_path):
    attached = attach_items(ratings_of([2, 99]), movies_dat(tmp_path), missing="fill")
    assert list(attached.titles) == ["Casino (1995)", "99"]
    np.testing.assert_array_equal(attached.genres[1], [False, False, False])
    assert attached.genres[0].tolist() == [False, True, False]
    np.testing.assert_array_equal(attached.years, [1995.0, np.nan])


def test_attach_says_when_integer_ids_meet_ids_with_leading_zeros(tmp_path):
    items = load_items(write(tmp_path, "movies.dat", MOVIETWEETINGS))
    ratings = ratings_of([8, 10])  # the same movies, written without the zeros
    with pytest.raises(ValueError) as caught:
        attach_items(ratings, items)
    message = str(caught.value)
    assert message.startswith("2 of the 2 items of ratings are not in items")
    assert (
        "ratings item ids are integers, the item file ids are strings with leading zeros" in message
    )
    with pytest.warns(UserWarning, match="no item id of ratings is in items"):
        filled = attach_items(ratings, items, missing="fill")
    assert list(filled.titles) == ["8", "10"]


def test_attach_checks_its_arguments(tmp_path):
    items = movies_dat(tmp_path)
    with pytest.raises(ValueError, match="missing must be one of 'error', 'fill', got 'skip'"):
        attach_items(ratings_of([1]), items, missing="skip")
    with pytest.raises(TypeError, match="items must be an ItemTable"):
        attach_items(ratings_of([1]), {"1": "Heat"})
    with pytest.raises(TypeError, match="ratings must be a RatingsData"):
        attach_items(np.ones((1, 1)), items)


def test_an_item_table_refuses_repeated_ids_and_mismatched_columns():
    columns = dict(titles=["a", "b"], genres=np.zeros((2, 0)), genre_names=[], years=[1.0, 2.0])
    with pytest.raises(ValueError, match="item_ids must be distinct; '7' appears twice"):
        ItemTable(np.array([7, 7]), **columns)
    with pytest.raises(ValueError, match=r"years must have shape \(2,\)"):
        ItemTable(np.array([1, 2]), **{**columns, "years": [1.0]})
    table = ItemTable(np.array([1, 2]), **columns, source="hand-made")
    assert repr(table) == "ItemTable('hand-made': 2 items, 0 genres, 2 with a year)"


# --- years on RatingsData ------------------------------------------------------------------


def test_years_are_checked_and_kept_by_every_split():
    matrix = sp.csr_matrix(np.arange(1.0, 21.0).reshape(4, 5) % 5 + 1)
    years = np.array([1995.0, np.nan, 1977.0, 2001.0, 1920.0])
    data = RatingsData(matrix, np.arange(4), np.arange(5), (1.0, 5.0), years=years)
    train, test = train_test_split(data, seed=0)
    np.testing.assert_array_equal(train.years, years)
    np.testing.assert_array_equal(test.years, years)
    np.testing.assert_array_equal(k_fold(data, k=2, seed=0)[1].train.years, years)
    with pytest.raises(ValueError, match=r"years must have shape \(n_items,\) = \(5,\)"):
        RatingsData(matrix, np.arange(4), np.arange(5), (1.0, 5.0), years=years[:3])
    with pytest.raises(ValueError, match="write NaN for an unknown year"):
        RatingsData(matrix, np.arange(4), np.arange(5), (1.0, 5.0), years=years + np.inf)
    with pytest.raises(TypeError, match="years must be"):
        RatingsData(matrix, np.arange(4), np.arange(5), (1.0, 5.0), years=["x"] * 5)


# --- MovieLens 100K -------------------------------------------------------------------------


def test_movielens_years_are_the_release_years_of_u_item(movielens):
    ratings = movielens.ratings
    assert ratings.years.shape == (1_682,) and ratings.years.dtype == np.float64
    by_title = dict(zip(ratings.titles, ratings.years, strict=True))
    assert by_title["Toy Story (1995)"] == 1995.0
    assert by_title["Star Wars (1977)"] == 1977.0
    assert by_title["Taxi Driver (1976)"] == 1976.0  # not 1996, u.item's re-release date
    assert np.isnan(ratings.years[266]) and ratings.titles[266] == "unknown"  # item 267
    assert np.isnan(ratings.years).sum() == 1
    assert (np.nanmin(ratings.years), np.nanmax(ratings.years)) == (1922.0, 1998.0)
    for fold in ("u1", "ua"):
        np.testing.assert_array_equal(movielens.folds[fold].train.years, ratings.years)
        np.testing.assert_array_equal(movielens.folds[fold].test.years, ratings.years)


def test_movielens_u_item_through_load_items_matches_the_loaded_ratings(movielens):
    table = load_items(movielens.path / "u.item")
    assert table.genre_names == list(ML100K_GENRES) == movielens.ratings.genre_names
    np.testing.assert_array_equal(table.item_ids, movielens.ratings.item_ids)
    assert list(table.titles) == list(movielens.ratings.titles)
    np.testing.assert_array_equal(table.genres, movielens.ratings.genres)
    u_data = load_ratings(movielens.path / "u.data", items=movielens.path / "u.item")
    np.testing.assert_array_equal(u_data.years, movielens.ratings.years)
