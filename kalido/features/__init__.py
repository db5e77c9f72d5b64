"""The maths, no I/O: the recommender (similarity, trends, personal ranking), its parameters from
the policy, the nightly self-check and weight learning (holdout) and the ranking metrics."""
