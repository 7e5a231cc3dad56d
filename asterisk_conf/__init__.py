"""Asterisk's configuration templates, shipped as package data so an installed hotline
renders them (telephony.asterisk_config) without a checkout beside it."""
