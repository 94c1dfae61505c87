"""Safety and prevention resources, helplines and the hotline directory, added with the dialog."""
