"""Validators: judge a bag (ours or anyone's) and return a Report; they never write.

The validators must not import the writers (packing, xml builders, staging): a test
keeps it so.
"""
