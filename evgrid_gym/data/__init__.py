"""Input data: wind power through real turbine power curves and synthetic profiles."""
