"""The teaching layer: labs (catalog, runner, checks), drills, interview cards, progress.

Owns: everything a learner runs to practise on the platform. It sits on top: it may import
any package below it (runtime, synthetic, ingestion, features, training, serving,
monitoring), and only the CLI imports it.
"""
