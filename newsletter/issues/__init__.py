"""Issues: the monthly issue file (content/issues/YYYY-MM.md) and building it into every variant.

Rule: reads issue files and items; rendering is delegated to render/, storage to store/.
"""
