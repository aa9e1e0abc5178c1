"""The DisLib image experiment of [R] §4.2: image data sets in their published layouts
(:mod:`linid.images.data`), a deterministic dSprites renderer (:mod:`linid.images.dsprites`) and
the encoders (:mod:`linid.images.models`)."""
