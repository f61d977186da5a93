/* The web form's helpers: the map pin, "gunakan lokasi saya", the desa list
   of the chosen kecamatan, and the print button. The form works without
   this script (except the map). */
(function () {
  "use strict";

  function setPoint(lat, lon, source) {
    document.getElementById("f-lat").value = lat.toFixed(6);
    document.getElementById("f-lon").value = lon.toFixed(6);
    document.getElementById("f-sumber").value = source;
    var status = document.getElementById("pin-status");
    if (status) {
      status.textContent = "Titik lokasi: " + lat.toFixed(5) + ", " + lon.toFixed(5) +
        ({ perangkat: " (dari perangkat Anda)", foto: " (dari foto Anda)" }[source] ||
         " (ditandai di peta)");
    }
  }

  /* Returns how to place the point: on the map when there is one. */
  function initMap() {
    var box = document.getElementById("map");
    if (!box || typeof L === "undefined") { return setPoint; }
    document.getElementById("map-tools").hidden = false;
    var lat0 = parseFloat(box.dataset.lat), lon0 = parseFloat(box.dataset.lon);
    var map = L.map(box).setView([lat0, lon0], parseInt(box.dataset.zoom, 10));
    L.tileLayer(box.dataset.tiles, { maxZoom: 19, attribution: box.dataset.attribution }).addTo(map);
    L.Icon.Default.imagePath = "/static/vendor/leaflet/images/";
    var marker = null;
    function place(lat, lon, source) {
      if (marker) { marker.setLatLng([lat, lon]); }
      else {
        marker = L.marker([lat, lon], { draggable: true, keyboard: true, title: "Titik kejadian" }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng(); setPoint(p.lat, p.lng, "pin");
        });
      }
      setPoint(lat, lon, source);
    }
    var lat = parseFloat(document.getElementById("f-lat").value);
    var lon = parseFloat(document.getElementById("f-lon").value);
    if (!isNaN(lat) && !isNaN(lon)) {
      place(lat, lon, document.getElementById("f-sumber").value || "pin");
      map.setView([lat, lon], 15);
    }
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, "pin"); });
    var button = document.getElementById("use-location");
    if (!navigator.geolocation) { button.hidden = true; return place; }
    button.addEventListener("click", function () {
      var status = document.getElementById("pin-status");
      status.textContent = "Mencari lokasi Anda…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        place(pos.coords.latitude, pos.coords.longitude, "perangkat");
        map.setView([pos.coords.latitude, pos.coords.longitude], 16);
      }, function () {
        status.textContent = "Lokasi perangkat tidak dapat dibaca. Izinkan akses lokasi, " +
          "atau ketuk peta untuk menandai titik.";
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
    return place;
  }

  /* The GPS position in a JPEG's EXIF (APP1), or null: read here only to
     suggest the location; the server strips it from the stored copy. */
  function exifGps(buffer) {
    var v = new DataView(buffer), pos = 2;
    if (v.byteLength < 4 || v.getUint16(0) !== 0xFFD8) { return null; }
    while (pos + 4 < v.byteLength) {
      var marker = v.getUint16(pos), size = v.getUint16(pos + 2);
      if (marker === 0xFFE1 && v.getUint32(pos + 4) === 0x45786966) {
        return tiffGps(v, pos + 10);
      }
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return null; }
      pos += 2 + size;
    }
    return null;
  }

  function tiffGps(v, start) {
    var little = v.getUint16(start) === 0x4949;
    function u16(o) { return v.getUint16(start + o, little); }
    function u32(o) { return v.getUint32(start + o, little); }
    function entries(ifd) {  /* tag -> where its value field is */
      var out = {}, count = u16(ifd);
      for (var i = 0; i < count; i++) { out[u16(ifd + 2 + i * 12)] = ifd + 2 + i * 12 + 8; }
      return out;
    }
    function degrees(field) {
      var at = u32(field), value = 0;
      for (var i = 0; i < 3; i++) {
        var den = u32(at + i * 8 + 4);
        value += den ? u32(at + i * 8) / den / Math.pow(60, i) : 0;
      }
      return value;
    }
    function ref(field) { return String.fromCharCode(v.getUint8(start + field)); }
    var ifd0 = entries(u32(4));
    if (ifd0[0x8825] === undefined) { return null; }
    var gps = entries(u32(ifd0[0x8825]));
    if (gps[2] === undefined || gps[4] === undefined) { return null; }
    var lat = degrees(gps[2]), lon = degrees(gps[4]);
    if (gps[1] !== undefined && ref(gps[1]) === "S") { lat = -lat; }
    if (gps[3] !== undefined && ref(gps[3]) === "W") { lon = -lon; }
    if (!isFinite(lat) || !isFinite(lon) || (lat === 0 && lon === 0)) { return null; }
    return [lat, lon];
  }

  /* Says at once what the server would refuse (too many, too large), so
     the citizen does not wait for an upload that cannot pass. */
  function checkFiles(input) {
    var note = document.getElementById("lampiran-check");
    var most = parseInt(input.dataset.maxFiles, 10);
    var bytes = parseInt(input.dataset.maxBytes, 10);
    var problems = [];
    var files = Array.prototype.slice.call(input.files || []);
    if (files.length > most) { problems.push("Paling banyak " + most + " berkas lampiran."); }
    files.forEach(function (f) {
      if (f.size > bytes) {
        problems.push("Berkas “" + f.name + "” terlalu besar (" + (f.size / 1e6).toFixed(1) +
          " MB; paling besar " + Math.round(bytes / 1e6) + " MB).");
      }
    });
    note.textContent = problems.join(" ");
    note.hidden = problems.length === 0;
    input.setCustomValidity(problems.join(" "));
  }

  function initPhotos(place) {
    var input = document.getElementById("f-lampiran");
    var box = document.getElementById("photo-gps");
    if (!input || !box || !window.DataView || !window.File || !File.prototype.arrayBuffer) { return; }
    var button = document.getElementById("use-photo-location");
    var found = null;
    input.addEventListener("change", function () {
      found = null;
      box.hidden = true;
      var files = Array.prototype.slice.call(input.files || []);
      files.reduce(function (chain, file) {
        return chain.then(function () {
          if (found) { return; }
          return file.slice(0, 256 * 1024).arrayBuffer().then(function (buffer) {
            try { found = exifGps(buffer); } catch (e) { found = null; }
          });
        });
      }, Promise.resolve()).then(function () {
        if (!found) { return; }
        document.getElementById("photo-gps-text").textContent =
          "Foto Anda berisi lokasi " + found[0].toFixed(5) + ", " + found[1].toFixed(5) + ".";
        box.hidden = false;
      });
    });
    button.addEventListener("click", function () {
      if (found) { place(found[0], found[1], "foto"); }
    });
  }

  function initDesa() {
    var kec = document.getElementById("f-kecamatan");
    var desa = document.getElementById("f-desa");
    if (!kec || !desa) { return; }
    function filter() {
      var groups = desa.querySelectorAll("optgroup");
      for (var i = 0; i < groups.length; i++) {
        var mine = !kec.value || groups[i].dataset.kecamatan === kec.value;
        groups[i].hidden = !mine;
        groups[i].disabled = !mine;
      }
      var chosen = desa.options[desa.selectedIndex];
      if (chosen && chosen.parentNode.disabled) { desa.value = ""; }
    }
    kec.addEventListener("change", filter);
    filter();
  }

  /* "Periksa laporan serupa" without leaving the page, so the chosen files
     stay chosen (a page sent back by the server cannot hold them). */
  function initSimilar() {
    var button = document.getElementById("check-similar");
    var form = document.getElementById("lapor-form");
    if (!button || !form || !window.fetch || !window.FormData || !window.DOMParser) { return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      data.delete("lampiran");
      data.set("aksi", "periksa");
      button.disabled = true;
      fetch("/lapor", { method: "POST", body: data, credentials: "same-origin" })
        .then(function (answer) { return answer.text(); })
        .then(function (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("similar");
          var notice = page.querySelector("main > .flash");
          var section = document.getElementById("similar");
          if (fresh) {
            section.innerHTML = fresh.innerHTML;
            if (notice && !fresh.querySelector(".flash")) { section.appendChild(notice); }
            initSimilar();
            var first = section.querySelector("input, .flash");
            if (first) { first.focus(); }
          } else { button.disabled = false; form.requestSubmit(button); }
        })
        .catch(function () { button.disabled = false; form.requestSubmit(button); });
    });
  }

  function initPrint() {
    var button = document.getElementById("print");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var files = document.getElementById("f-lampiran");
    if (files) { files.addEventListener("change", function () { checkFiles(files); }); }
    initPhotos(initMap()); initDesa(); initSimilar(); initPrint();
  });
})();
