"""The reference pipeline Exodus drives: frontend -> queue -> parser -> queue -> pod worker -> store.

Shaped like API Gateway/SQS/Lambda/DynamoDB, runnable on a laptop with SQLite alone.
"""
