"""Labs as data: the catalog of lab.yaml files, the runner that executes and checks their steps."""
