# The build shared by plugins/gimp-2.10/Makefile and plugins/gimp-3/Makefile, which set
# before including it:
#   HERE           the plug-in's folder
#   GIMP_API       2.0 or 3.0 (the pkg-config name gimpui-$(GIMP_API))
#   PLUGIN_SOURCE  the plug-in's own C file, in $(HERE)
#   GIMP_DIRECTORY the GIMP profile folder to install into
#   WARNINGS       warnings to add for that GIMP's headers
#
# The plug-in finds libcolorize beside itself (rpath $ORIGIN); install copies it there,
# stripped, under its file name and, if the library has one, its SONAME, and its help
# pages into help/ (the plug-in registers that folder as its GIMP help domain).

ROOT             := $(abspath $(HERE)/../..)
COLORIZE_INCLUDE ?= $(ROOT)/include
COLORIZE_LIBDIR  ?= $(ROOT)/target/release
COMMON           := $(ROOT)/plugins/common
BUILD            := $(HERE)/build
PKG_CONFIG       ?= pkg-config
CC               ?= cc
CFLAGS           ?= -O2 -g -Wall -Wextra -Wno-unused-parameter $(WARNINGS)
XDG_CONFIG_HOME  ?= $(HOME)/.config
PLUGIN_DIR        = $(GIMP_DIRECTORY)/plug-ins/colorize
LIBRARY          := $(COLORIZE_LIBDIR)/libcolorize.so
# Where the plug-in looks for libcolorize first: beside itself (what `make install` puts
# there). scripts/package-deb.sh sets it empty: the packaged plug-in uses the system's.
PLUGIN_RPATH     ?= -Wl,-rpath,'$$ORIGIN'

GIMP_CFLAGS := $(shell $(PKG_CONFIG) --cflags gimpui-$(GIMP_API) gegl-0.4)
GIMP_LIBS   := $(shell $(PKG_CONFIG) --libs gimpui-$(GIMP_API) gegl-0.4)

SOURCES := $(HERE)/$(PLUGIN_SOURCE) $(COMMON)/colorize-gimp-common.c \
           $(COMMON)/colorize-gimp-progress-window.c
HEADERS := $(COMMON)/colorize-gimp-common.h $(COMMON)/colorize-gimp-progress-window.h \
           $(COLORIZE_INCLUDE)/colorize.h

.PHONY: all install uninstall clean

all: $(BUILD)/colorize

$(COLORIZE_INCLUDE)/colorize.h $(LIBRARY):
	@echo "missing $@: build libcolorize first (cargo build --release in $(ROOT))" >&2; exit 1

$(BUILD)/colorize: $(SOURCES) $(HEADERS) $(LIBRARY) $(COMMON)/plugin.mk
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) -I$(COLORIZE_INCLUDE) -I$(COMMON) $(GIMP_CFLAGS) -o $@ $(SOURCES) \
		-L$(COLORIZE_LIBDIR) -lcolorize $(PLUGIN_RPATH) $(GIMP_LIBS) -lm $(LDFLAGS)

# The name the plug-in asks the loader for (empty for a library without a SONAME).
SONAME = $(shell objdump -p $(LIBRARY) 2>/dev/null | sed -n 's/^ *SONAME *//p')

install: $(BUILD)/colorize
	install -d "$(PLUGIN_DIR)"
	install -m 755 $(BUILD)/colorize "$(PLUGIN_DIR)/colorize"
	install -d "$(PLUGIN_DIR)/help/en"
	install -m 644 $(COMMON)/help/en/gimp-help.xml $(COMMON)/help/en/index.html "$(PLUGIN_DIR)/help/en"
	install -m 644 -s $(LIBRARY) "$(PLUGIN_DIR)/libcolorize.so"
	if [ -n "$(SONAME)" ] && [ "$(SONAME)" != libcolorize.so ]; then \
		ln -sf libcolorize.so "$(PLUGIN_DIR)/$(SONAME)"; fi

uninstall:
	rm -f "$(PLUGIN_DIR)/colorize" "$(PLUGIN_DIR)"/libcolorize.so*
	rm -rf "$(PLUGIN_DIR)/help"
	-rmdir "$(PLUGIN_DIR)"

clean:
	rm -rf $(BUILD)
