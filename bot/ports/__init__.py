"""The ports: what the core needs of chat platforms, video backends and storage."""
