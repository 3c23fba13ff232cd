"""DeepGrad's autograder: nbgrader source notebooks, a sandboxed runner and trusted checks.

See autograder/README.md (instructors) and autograder/FORMAT.md (assignment authors).
"""
