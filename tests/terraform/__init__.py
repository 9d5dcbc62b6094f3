"""Static reading of ``terraform/``: parsing, a small expression evaluator, AWS call discovery.

No Terraform binary or AWS account is needed; tests that can also use a
``terraform`` binary when one is installed say so and skip without it.
"""
