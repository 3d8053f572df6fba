"""The MLC study's flow (stages `mlc-*` in dvc.yaml)."""

from flows.study import make_study_flow

flow = make_study_flow("mlc")
