"""The intrinsic-dimension study's flow (stages `intdim-*` in dvc.yaml)."""

from flows.study import make_study_flow

flow = make_study_flow("intdim")
