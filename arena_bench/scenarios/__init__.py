"""Scenarios and task sets: the families and the generator, ANAC (Genius) domains, released task sets, human datasets on the same scale."""
