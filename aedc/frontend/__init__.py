"""Frontends: NIR import/export and the native Python builder."""

from aedc.frontend.builder import Network

__all__ = ["Network"]
