"""The SSVI study's flow (stages `ssvi-*` in dvc.yaml)."""

from flows.study import make_study_flow

flow = make_study_flow("ssvi")
