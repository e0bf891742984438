"""Review a change (`ckredis diff`): compare a committed chart with a fresh render, as `{path: text}` chart files.

Split as check-jsonschema splits a check: `comparison.py` is the checker and holds its result (`ChartReview`),
`impact.py` models what the operator does with the change, `reporter.py` formats the results (text, markdown, JSON).
"""
