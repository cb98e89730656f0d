"""MetaGPT 0.7-0.8's configuration objects, as views onto our one `metagpt.config.Config`."""
