"""Delivery: moving a model version into service and out again (deploy, progressive rollout).

Sits above serving (it drives the model server over HTTP and reads its metrics) and below
monitoring and teaching.
"""
