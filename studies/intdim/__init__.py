"""Intrinsic dimension (Li, Farkhoor, Liu & Yosinski, ICLR 2018): train a network in a random d-dimensional
subspace of its weights, θ = θ₀ + P θ_d, and find the smallest d that reaches 90 % of full-space accuracy."""
