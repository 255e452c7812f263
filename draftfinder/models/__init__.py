"""Models: a name → a record → facts (resolver, sources, analysis, parameter counts, GGUF and safetensors readers, family)."""
