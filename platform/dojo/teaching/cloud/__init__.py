"""The platform expressed as managed-cloud configuration (lab 09): a dry run, checked offline.

Why generated, not hand-written: the cloud versions must follow the local platform's settings
(replica bounds, canary share, ports, feature names), or they drift from what the labs teach.
Why checked against the SDKs' own types: a JSON that only looks like a SageMaker request
teaches nothing; botocore's service model and Vertex AI's protobuf messages reject unknown or
mistyped fields exactly as the real APIs would, without credentials or a network.
"""
