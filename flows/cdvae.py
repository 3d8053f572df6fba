"""The CDVAE study's flow (stages `cdvae-*` in dvc.yaml); train, reconstruct and generate carry the `gpu`
tag."""

from flows.study import make_study_flow

flow = make_study_flow("cdvae")
