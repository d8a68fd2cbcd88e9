"""Models, training, evaluation and the model registry."""
