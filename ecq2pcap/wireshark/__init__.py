"""Wireshark integration: the extcap capture interface, its installer and the Lua dissector of process fields."""
