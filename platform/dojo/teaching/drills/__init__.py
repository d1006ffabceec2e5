"""Troubleshooting drills: break the running stack on purpose, then verify the learner's fix.

One module per drill; ``registry.discover()`` finds them. See ``base.py`` for the contract.
"""
