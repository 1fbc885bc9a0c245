"""keras.models: the Sequential model (from dagrad.keras.models import Sequential)."""

from dagrad.keras.model import Sequential

__all__ = ["Sequential"]
