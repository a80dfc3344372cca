"""TIMGen: temporal Transformer + multimodal attention fusion + VAE, trained on the timgen-data dataset contract."""
