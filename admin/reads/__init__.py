"""Read models the panel's pages (and, over time, the JSON API) share: queries, no writes."""
