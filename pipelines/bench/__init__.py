"""Rate-distortion benchmarks: baseline codecs, quality metrics, BD-rate and reports.

One record schema for every codec and modality (see ``image_bench``); ``report`` turns records
into mean RD curves, BD-rates, a JSON file with provenance, a plot and a table.
"""
