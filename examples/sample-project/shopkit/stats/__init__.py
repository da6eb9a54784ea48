"""Statistics over sales figures: descriptive stats, histograms, rankings and time series."""
