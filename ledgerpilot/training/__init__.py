"""Dataset curation, LoRA fine-tuning, adapter merging, evaluation and serving config."""
