"""The model tiers: InternVL (``internvl``, ``internvl_tiles``), Llama 3.2 Vision (``llama_vision``), OCR +
Llama 3.2 text (``ocr_llm``), what they share (``model_backend``, ``hf``, ``loading``, ``generation``,
``constrain``, ``prompts``) and ``probe`` (``python -m backends.models.probe``: what this machine's model stack
can do). torch and transformers are imported only inside functions. Imported by the registry (lazily, by
string) and by ``backends.testing``; imports ``fields``, ``ocr``, ``documents`` and the top of ``backends``."""
