"""The docs folder is a package only so that its conftest.py and the tests' have distinct
module names under pytest --doctest-modules."""
