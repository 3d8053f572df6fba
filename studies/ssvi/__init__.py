"""SSVI (Li et al., ICLR 2024): Bayesian neural nets with a Gaussian posterior on a sparse, pruned-and-regrown
support."""
