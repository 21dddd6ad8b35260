"""Data stages: sources (Hub or bundled), cleaning, validation, mixing, synthetic full-size data."""
