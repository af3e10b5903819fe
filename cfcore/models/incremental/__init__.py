"""Incremental EM: a fitted mixture that learns from each new rating, without a pass over everyone.

Neal and Hinton (1998) view EM as coordinate ascent on one function, the free energy

    F(q, theta) = sum_u [ sum_j q_uj (log p_j + log N(x_{C_u} | mu_{j,C_u}, var_j I))
                          - sum_j q_uj log q_uj ]          (+ log p(mu) for MAP-EM),

a lower bound on the log-likelihood (log-posterior) that touches it when every q_u is that
user's posterior. The E-step maximises F over one user's q_u with theta fixed (the answer is
their posterior, whatever the other users' q), the M-step maximises F over theta with every
q fixed. And F sees the q only through the sums the M-step needs (``em.Statistics``):

    weighted_ratings_ji = sum_u q_uj x_ui,   support_ji = sum_u q_uj [i in C_u],
    weighted_sq_norms_j = sum_u q_uj sum_{i in C_u} x_ui^2,   weights_j = sum_u q_uj,

each a sum of one term per user. So when a user's ratings change, their E-step against the
current theta, their old term subtracted and their new one added, then the closed-form
M-step from the totals, is an exact coordinate-ascent step: it cannot lower F. Over every
user in turn with the M-step after the last one it is one batch EM iteration (``sweep``).

What an update costs. A user's term touches only the coordinates they rated, so the sums
change there only, in O(K |C_u|). The M-step re-solves the means of those coordinates (the
course's mean: exactly the full M-step, since no other sum moved; MAP-EM's mean, which
divides by support + var_j / tau^2, keeps the other coordinates at their conditional maximum
for the variance they were last solved with, a generalised M-step that cannot lower F
either; ``refresh`` re-solves them all), then var_j and p_j from the totals, in O(K): the
variance needs sum_i (mu_ji^2 support_ji - 2 mu_ji weighted_ratings_ji) over every
coordinate, kept as a running sum that each update corrects for the coordinates it touched
(``em.squared_errors`` computes both shares). Per rating that is O(S K (|C_u| + |U_i|)) for
S seeds, never a pass over all users.

The residual mixture (and the hybrid) model x_ui = m + b_u + c_i (+ f_i^T a_u) + r_ui, with
the mixtures on r. A new rating (u, i) also updates the offsets, each by its closed form
given the others (a conditional optimum of the biases' penalised least squares; the hybrid's
taste, of its ridge regression): b_u given the item offsets, then c_i given the user offsets,
then a_u. The global mean m stays fixed (moving it would shift every residual of every
user). A change dc of c_i shifts item i's residual for every user who rated it, which moves
the users side's sums of column i in closed form, O(S K):

    weighted_ratings_ji -= dc support_ji,
    weighted_sq_norms_j += -2 dc weighted_ratings_ji (before the shift) + dc^2 support_ji;

a change of b_u (and a_u) moves user u's residuals, which on the items side (items as rows,
users as coordinates) is coordinate u of every item u rated, corrected with those items'
posteriors in O(S K |C_u|). The other users' tastes are not re-solved when c_i moves.

Layout. A side (users: rows users, coordinates items; items: the transpose) holds S seeds'
mixtures stacked: mu, weighted_ratings, support as (coordinates, S, K) arrays, so that one
row's coordinates are one gather of contiguous (S, K) blocks; posteriors (rows, S, K).
``undo`` restores the state before the last call exactly: every write first saves what it
overwrites (``journal.Journal``).
"""

from .live import SIDES, UNDO_DEPTH, LiveModel

__all__ = ["SIDES", "UNDO_DEPTH", "LiveModel"]
