"""Configuration, every setting in one place.

`settings.py` the settings model (`Config`) and its precedence; `sources.py` reading and naming
the sources; `provider_settings.py` the vendors' keys and URLs and `roles:`; `catalogue.py` every
`api_type`; `config2_file.py` MetaGPT 0.7's `config2.yaml`; `template.py` `--init-config`;
`metagpt_config.py`, `llm_config.py`, `workspace_config.py`, `legacy_config.py` MetaGPT 0.1-0.8's
views onto the one `Config`. `metagpt.config` and `metagpt.config2` are the names scripts import.
"""
