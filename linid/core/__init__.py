"""The bottom layer: utilities every other package may import, importing none of them (atomic files)."""
