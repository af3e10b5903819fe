"""What people use: recommendations for a new user, the notebook 07 widgets, plotting."""
