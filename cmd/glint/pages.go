package main

import (
	"io/fs"
	"net/http"

	"github.com/glintlive/glint/webclient"
)

// handlePages serves the pages built on the SDK at the root: / is index.html, and each of
// the others at /{name} (watch.html, studio.html, their scripts and style). Only the
// pages' own names are routed here; every other path stays with signaling.
func handlePages(mux *http.ServeMux) {
	pages, _ := fs.Sub(webclient.Pages, "pages")
	files := http.FileServerFS(pages)
	entries, _ := fs.ReadDir(pages, ".")
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != "index.html" {
			mux.Handle("GET /"+e.Name(), files)
		}
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, pages, "index.html")
	})
}

// publicScripts lets pages on any origin load the SDK (import from
// https://live.example.com/sdk/glint.js): it is public code fetched without credentials,
// so "*" gives nothing away, whatever signaling.cors_origins allows for the API.
func publicScripts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	})
}
