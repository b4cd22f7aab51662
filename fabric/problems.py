"""Problem+json answers for the whole HTTP API: the same shape the upload endpoints use."""

from tus_server.problems import PROBLEM_CONTENT_TYPE, problem

__all__ = ["PROBLEM_CONTENT_TYPE", "problem"]
