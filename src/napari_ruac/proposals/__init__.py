"""Object proposals from the image alone (numpy, scipy, scikit-image; imports only ``core``): one region, hence
one box, per blob-like object (``blobs.blob_regions``), over-split regions merged (``region_merge``) and
under-split ones cut (``region_split``). Segment-everything prompts the model with them, and a lone click
is checked against the proposal under it (``inference.click_proposal``)."""
