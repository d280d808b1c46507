"""The IPO newsletter and communications pipeline for the members of the 12 Provinciale Staten."""

__version__ = "0.1.0"
