"""What two or more of the models share: data, layers, losses, metrics, training, export."""
