"""CUDA wheel factory: plan, provision, build, repair, verify and publish CUDA extension wheels."""

__version__ = "0.1.0"
