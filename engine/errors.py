"""Engine failures, each carrying one sentence an artist can act on."""


class EngineError(ValueError):
    """Base of every engine failure with a user-facing message."""


class InvalidRequestError(EngineError):
    """A setting is out of range or unknown; nothing was computed."""


class ModelLoadError(EngineError):
    """The model cannot be found, reached or read."""


class OutOfMemoryError(EngineError):
    """The device ran out of memory for this size or batch."""


class GenerationCancelled(EngineError):
    """The user stopped the generation between steps."""


class GenerationFailedError(EngineError):
    """Something unexpected broke inside the engine; the original error is kept as the cause."""
