"""Everything of napari-ruac that imports napari or Qt: widgets, reader, writers, sample data."""
