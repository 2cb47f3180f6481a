"""Training RUAC (Bayesian decoder + style/deformation attackers) on your own data."""
